github_repository = "example-org/fintech"
state_bucket      = "example-fintech-terraform-state"
