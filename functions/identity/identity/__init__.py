"""Who may hold which group in a token: the user pool's Pre Token Generation trigger."""
