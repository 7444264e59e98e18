"""API Gateway: the REST API of the template's Api events, its authorizer and throttling."""
