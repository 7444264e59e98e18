"""Step Functions: moto's interpreter, with what it leaves out of AWS's behaviour put back."""
