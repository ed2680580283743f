output "api_certificate_arn" {
  description = "Validated certificate of the API name (regional)."
  value       = aws_acm_certificate_validation.api.certificate_arn
}

output "dashboard_certificate_arn" {
  description = "Validated certificate of the dashboard name (us-east-1)."
  value       = aws_acm_certificate_validation.dashboard.certificate_arn
}
