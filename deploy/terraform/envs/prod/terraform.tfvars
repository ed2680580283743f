# Names of the prod environment (replace example.com with your zone). ECR values come from
# `terraform output` in envs/shared.
zone_name          = "example.com"
api_hostname       = "api.example.com"
dashboard_hostname = "app.example.com"
ecr_repository_arn = "arn:aws:ecr:eu-west-1:111111111111:repository/fintech"
ecr_kms_key_arn    = "arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
