"""DynamoDB as localcloud runs it: moto's, with cheaper transactions, queries and answers."""
