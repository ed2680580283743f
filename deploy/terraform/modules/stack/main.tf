# One environment of fintech: the modules wired together. The env roots (envs/dev, staging,
# prod) only set sizes and names.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.80"
      configuration_aliases = [aws.us_east_1]
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  name = "fintech-${var.environment}"
}

module "kms" {
  source = "../kms"
  name   = local.name
}

module "network" {
  source               = "../network"
  name                 = local.name
  cidr                 = var.vpc_cidr
  availability_zones   = var.availability_zones
  single_nat_gateway   = var.single_nat_gateway
  kms_key_arn          = module.kms.key_arn
  metrics_scrape_cidrs = var.metrics_scrape_cidrs
}

module "s3" {
  source      = "../s3"
  name        = "${local.name}-${data.aws_caller_identity.current.account_id}"
  kms_key_arn = module.kms.key_arn
}

module "secrets" {
  source      = "../secrets"
  name        = local.name
  kms_key_arn = module.kms.key_arn
  db_host     = module.rds.address
  db_port     = module.rds.port
}

module "rds" {
  source                = "../rds"
  name                  = local.name
  subnet_ids            = module.network.data_subnet_ids
  security_group_id     = module.network.db_security_group_id
  kms_key_arn           = module.kms.key_arn
  password              = module.secrets.db_password
  instance_class        = var.db_instance_class
  multi_az              = var.db_multi_az
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.deletion_protection
}

module "redis" {
  source            = "../redis"
  name              = local.name
  subnet_ids        = module.network.data_subnet_ids
  security_group_id = module.network.redis_security_group_id
  kms_key_arn       = module.kms.key_arn
  auth_token        = module.secrets.redis_auth_token
  node_type         = var.redis_node_type
  nodes             = var.redis_nodes
}

module "dns" {
  source = "../dns"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  zone_name              = var.zone_name
  api_hostname           = var.api_hostname
  dashboard_hostname     = var.dashboard_hostname
  alb_dns_name           = module.ecs.alb_dns_name
  alb_zone_id            = module.ecs.alb_zone_id
  cloudfront_domain_name = module.cloudfront.domain_name
  cloudfront_zone_id     = module.cloudfront.hosted_zone_id
}

module "ecs" {
  source                    = "../ecs"
  name                      = local.name
  image                     = var.image
  vpc_id                    = module.network.vpc_id
  public_subnet_ids         = module.network.public_subnet_ids
  app_subnet_ids            = module.network.app_subnet_ids
  alb_security_group_id     = module.network.alb_security_group_id
  app_security_group_id     = module.network.app_security_group_id
  certificate_arn           = module.dns.api_certificate_arn
  public_hostname           = var.api_hostname
  logs_bucket               = module.s3.logs_bucket
  kms_key_arn               = module.kms.key_arn
  ecr_repository_arn        = var.ecr_repository_arn
  ecr_kms_key_arn           = var.ecr_kms_key_arn
  encryption_key_secret_arn = module.secrets.encryption_key_arn
  database_url_secret_arn   = module.secrets.database_url_arn
  provider_secret_arns      = { for k in var.enabled_provider_secrets : k => module.secrets.provider_secret_arns[k] }
  extra_environment         = var.extra_environment
  amp_workspace_arn         = module.monitoring.amp_workspace_arn
  amp_workspace_endpoint    = module.monitoring.amp_workspace_endpoint
  metrics_scrape_cidrs      = var.metrics_scrape_cidrs
  cpu                       = var.task_cpu
  memory                    = var.task_memory
  min_tasks                 = var.min_tasks
  max_tasks                 = var.max_tasks
  db_max_connections        = var.db_max_connections_per_task
  deletion_protection       = var.deletion_protection
}

module "cloudfront" {
  source = "../cloudfront"
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
  name                    = local.name
  dashboard_hostname      = var.dashboard_hostname
  origin_hostname         = var.api_hostname
  certificate_arn         = module.dns.dashboard_certificate_arn
  logs_bucket_domain_name = module.s3.logs_bucket_domain_name
}

module "monitoring" {
  source                     = "../monitoring"
  name                       = local.name
  region                     = data.aws_region.current.name
  account_id                 = data.aws_caller_identity.current.account_id
  kms_key_arn                = module.kms.key_arn
  alert_emails               = var.alert_emails
  alb_arn_suffix             = module.ecs.alb_arn_suffix
  target_group_arn_suffix    = module.ecs.target_group_arn_suffix
  ecs_cluster_name           = module.ecs.cluster_name
  ecs_service_name           = module.ecs.service_name
  db_instance_id             = module.rds.identifier
  db_connection_alarm        = floor(var.max_tasks * var.db_max_connections_per_task * 0.9)
  redis_replication_group_id = local.name
}
