# Provider-free on purpose: `tofu init`, `validate` and `test` run offline.
terraform {
  required_version = ">= 1.12.0"
}
