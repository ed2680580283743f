variable "region" {
  description = "The AWS region."
  type        = string
  default     = "eu-west-1"
}

variable "github_repository" {
  description = "owner/name of the GitHub repository."
  type        = string
}

variable "state_bucket" {
  description = "The Terraform state bucket."
  type        = string
}
