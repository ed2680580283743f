# The dev environment: the stack module with dev's sizes (terraform.tfvars holds the names).
# State: the S3 backend, bucket and region given at init (see docs/deploy.md):
#   terraform init -backend-config="bucket=<state bucket>" -backend-config="region=<region>"

terraform {
  required_version = ">= 1.10"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
  backend "s3" {
    key          = "dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = { Project = "fintech", Environment = "dev", ManagedBy = "terraform" }
  }
}

# CloudFront's certificate and WAF live in us-east-1
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
  default_tags {
    tags = { Project = "fintech", Environment = "dev", ManagedBy = "terraform" }
  }
}

module "stack" {
  source = "../../modules/stack"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  environment              = "dev"
  image                    = var.image
  ecr_repository_arn       = var.ecr_repository_arn
  ecr_kms_key_arn          = var.ecr_kms_key_arn
  zone_name                = var.zone_name
  api_hostname             = var.api_hostname
  dashboard_hostname       = var.dashboard_hostname
  alert_emails             = var.alert_emails
  enabled_provider_secrets = var.enabled_provider_secrets
  extra_environment        = var.extra_environment

  # small and cheap: two zones, one NAT gateway, no database standby
  vpc_cidr                 = "10.40.0.0/16"
  availability_zones       = ["eu-west-1a", "eu-west-1b"]
  single_nat_gateway       = true
  db_instance_class        = "db.t4g.small"
  db_multi_az              = false
  db_backup_retention_days = 7
  redis_node_type          = "cache.t4g.micro"
  redis_nodes              = 2
  task_cpu                 = 512
  task_memory              = 1024
  min_tasks                = 2
  max_tasks                = 3
  deletion_protection      = true # set false (and apply) before destroying dev
}
