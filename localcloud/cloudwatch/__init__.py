"""CloudWatch: the metrics localcloud sees (AWS/SQS, AWS/States, AWS/Lambda, AWS/ApiGateway and
the functions' EMF lines), stored in moto's CloudWatch, and the template's alarms evaluated on
them the way CloudWatch does, with their SNS actions."""
