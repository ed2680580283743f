output "address" {
  description = "Hostname of the instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the instance."
  value       = aws_db_instance.this.port
}

output "identifier" {
  description = "Instance identifier (for alarms)."
  value       = aws_db_instance.this.identifier
}
