variable "hostname" {
  description = "Host name of the node."
  type        = string
  default     = "ferry-k3s"
}

variable "k3s_version" {
  description = "The k3s release to install (never a channel: a pinned release)."
  type        = string
  default     = "v1.33.4+k3s1"

  validation {
    condition     = can(regex("^v1\\.[0-9]+\\.[0-9]+\\+k3s[0-9]+$", var.k3s_version))
    error_message = "The k3s_version must be a pinned release like v1.33.4+k3s1."
  }
}

variable "argocd_chart_version" {
  description = "The argo-cd Helm chart version k3s's Helm controller installs."
  type        = string
  default     = "8.3.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.argocd_chart_version))
    error_message = "The argocd_chart_version must be an exact chart version."
  }
}

variable "policy_controller_chart_version" {
  description = "The sigstore policy-controller Helm chart version k3s's Helm controller installs (it enforces deployments/policies)."
  type        = string
  default     = "0.9.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.policy_controller_chart_version))
    error_message = "The policy_controller_chart_version must be an exact chart version."
  }
}

variable "repo_url" {
  description = "The Git repository holding deployments/."
  type        = string
  default     = "https://github.com/ferry-ci/ferry.git"
}

variable "repo_revision" {
  description = "The branch Argo CD follows."
  type        = string
  default     = "main"
}

variable "ssh_authorized_keys" {
  description = "Public SSH keys for the admin user."
  type        = list(string)
  default     = []
}
