# Account-wide pieces, applied once before the environments: the image repository (one image,
# promoted from dev to prod by tag) with its KMS key, and the GitHub OIDC roles of the release
# and deploy workflows.
#   terraform init -backend-config="bucket=<state bucket>" -backend-config="region=<region>"

terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
  backend "s3" {
    key          = "shared/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "fintech", Environment = "shared", ManagedBy = "terraform" }
  }
}

data "aws_caller_identity" "current" {}

module "kms" {
  source = "../../modules/kms"
  name   = "fintech-ecr"
}

module "ecr" {
  source      = "../../modules/ecr"
  name        = "fintech"
  kms_key_arn = module.kms.key_arn
}

module "github_oidc" {
  source             = "../../modules/github-oidc"
  name               = "fintech"
  account_id         = data.aws_caller_identity.current.account_id
  github_repository  = var.github_repository
  ecr_repository_arn = module.ecr.repository_arn
  ecr_kms_key_arn    = module.kms.key_arn
  state_bucket       = var.state_bucket
}
