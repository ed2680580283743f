output "backups_bucket" {
  description = "Bucket for database exports."
  value       = aws_s3_bucket.backups.id
}

output "backups_bucket_arn" {
  description = "Its ARN (for IAM policies)."
  value       = aws_s3_bucket.backups.arn
}

output "logs_bucket" {
  description = "Bucket for access logs."
  value       = aws_s3_bucket.logs.id
}

output "logs_bucket_domain_name" {
  description = "Its domain name (CloudFront logging)."
  value       = aws_s3_bucket.logs.bucket_domain_name
}
