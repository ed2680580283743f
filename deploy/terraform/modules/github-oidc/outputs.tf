output "release_role_arn" {
  description = "Role of the release workflow (secret AWS_RELEASE_ROLE_ARN)."
  value       = aws_iam_role.release.arn
}

output "deploy_role_arns" {
  description = "Roles of the deploy workflow by environment (environment secret AWS_DEPLOY_ROLE_ARN)."
  value       = { for k, r in aws_iam_role.deploy : k => r.arn }
}
