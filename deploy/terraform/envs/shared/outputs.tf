output "ecr_repository_url" {
  description = "Repository variable ECR_REPOSITORY of the workflows."
  value       = module.ecr.repository_url
}

output "ecr_repository_arn" {
  description = "For the environments' tfvars."
  value       = module.ecr.repository_arn
}

output "ecr_kms_key_arn" {
  description = "For the environments' tfvars."
  value       = module.kms.key_arn
}

output "release_role_arn" {
  description = "Repository secret AWS_RELEASE_ROLE_ARN."
  value       = module.github_oidc.release_role_arn
}

output "deploy_role_arns" {
  description = "Environment secret AWS_DEPLOY_ROLE_ARN of each GitHub environment."
  value       = module.github_oidc.deploy_role_arns
}
