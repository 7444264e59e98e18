"""CloudFormation: the template, translated by aws-sam-translator, its resources made in moto."""
