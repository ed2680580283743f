output "domain_name" {
  description = "The distribution's name (Route 53 alias)."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "hosted_zone_id" {
  description = "The distribution's hosted zone (Route 53 alias)."
  value       = aws_cloudfront_distribution.this.hosted_zone_id
}
