# Not an environment: a root that instantiates every module needing only the AWS provider,
# with placeholder inputs, so `terraform validate` checks them against the provider's schema
# on machines that have the provider but cannot download (.ci/deploy-lint.sh runs it when a
# local mirror holds hashicorp/aws). The secrets and stack modules also need hashicorp/random;
# the deploy workflow validates them through the env roots. Never applied.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"
}

locals {
  arn = "arn:aws:iam::111111111111:role/placeholder"
}

module "kms" {
  source = "../modules/kms"
  name   = "fintech-ci"
}

module "ecr" {
  source      = "../modules/ecr"
  name        = "fintech-ci"
  kms_key_arn = module.kms.key_arn
}

module "network" {
  source             = "../modules/network"
  name               = "fintech-ci"
  availability_zones = ["eu-west-1a", "eu-west-1b"]
  kms_key_arn        = module.kms.key_arn
}

module "s3" {
  source      = "../modules/s3"
  name        = "fintech-ci"
  kms_key_arn = module.kms.key_arn
}

module "rds" {
  source            = "../modules/rds"
  name              = "fintech-ci"
  subnet_ids        = module.network.data_subnet_ids
  security_group_id = module.network.db_security_group_id
  kms_key_arn       = module.kms.key_arn
  password          = "placeholder-password"
}

module "redis" {
  source            = "../modules/redis"
  name              = "fintech-ci"
  subnet_ids        = module.network.data_subnet_ids
  security_group_id = module.network.redis_security_group_id
  kms_key_arn       = module.kms.key_arn
  auth_token        = "placeholder-token-of-sixteen-plus"
}

module "monitoring" {
  source                     = "../modules/monitoring"
  name                       = "fintech-ci"
  region                     = "eu-west-1"
  account_id                 = "111111111111"
  kms_key_arn                = module.kms.key_arn
  alb_arn_suffix             = module.ecs.alb_arn_suffix
  target_group_arn_suffix    = module.ecs.target_group_arn_suffix
  ecs_cluster_name           = module.ecs.cluster_name
  ecs_service_name           = module.ecs.service_name
  db_instance_id             = module.rds.identifier
  redis_replication_group_id = "fintech-ci"
}

module "ecs" {
  source                    = "../modules/ecs"
  name                      = "fintech-ci"
  image                     = "${module.ecr.repository_url}:v0.0.0"
  vpc_id                    = module.network.vpc_id
  public_subnet_ids         = module.network.public_subnet_ids
  app_subnet_ids            = module.network.app_subnet_ids
  alb_security_group_id     = module.network.alb_security_group_id
  app_security_group_id     = module.network.app_security_group_id
  certificate_arn           = module.dns.api_certificate_arn
  public_hostname           = "api.example.com"
  logs_bucket               = module.s3.logs_bucket
  kms_key_arn               = module.kms.key_arn
  ecr_repository_arn        = module.ecr.repository_arn
  ecr_kms_key_arn           = module.kms.key_arn
  encryption_key_secret_arn = local.arn
  database_url_secret_arn   = local.arn
  amp_workspace_arn         = module.monitoring.amp_workspace_arn
  amp_workspace_endpoint    = module.monitoring.amp_workspace_endpoint
}

module "dns" {
  source = "../modules/dns"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  zone_name              = "example.com"
  api_hostname           = "api.example.com"
  dashboard_hostname     = "app.example.com"
  alb_dns_name           = module.ecs.alb_dns_name
  alb_zone_id            = module.ecs.alb_zone_id
  cloudfront_domain_name = module.cloudfront.domain_name
  cloudfront_zone_id     = module.cloudfront.hosted_zone_id
}

module "cloudfront" {
  source = "../modules/cloudfront"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  name                    = "fintech-ci"
  dashboard_hostname      = "app.example.com"
  origin_hostname         = "api.example.com"
  certificate_arn         = module.dns.dashboard_certificate_arn
  logs_bucket_domain_name = module.s3.logs_bucket_domain_name
}

module "github_oidc" {
  source             = "../modules/github-oidc"
  name               = "fintech-ci"
  account_id         = "111111111111"
  github_repository  = "example-org/fintech"
  ecr_repository_arn = module.ecr.repository_arn
  ecr_kms_key_arn    = module.kms.key_arn
  state_bucket       = "example-state"
}
