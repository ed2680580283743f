output "db_password" {
  description = "The generated database password (for the RDS module)."
  value       = random_password.db.result
  sensitive   = true
}

output "redis_auth_token" {
  description = "The generated Redis AUTH token (for the Redis module)."
  value       = random_password.redis.result
  sensitive   = true
}

output "encryption_key_arn" {
  description = "Secret holding FINTECH_ENCRYPTION_KEY."
  value       = aws_secretsmanager_secret.generated["encryption-key"].arn
}

output "database_url_arn" {
  description = "Secret holding FINTECH_DATABASE_URL."
  value       = aws_secretsmanager_secret.generated["database-url"].arn
}

output "redis_auth_token_arn" {
  description = "Secret holding the Redis AUTH token."
  value       = aws_secretsmanager_secret.generated["redis-auth-token"].arn
}

output "provider_secret_arns" {
  description = "Provider credential secrets by environment variable name."
  value       = { for k, s in aws_secretsmanager_secret.provider : k => s.arn }
}
