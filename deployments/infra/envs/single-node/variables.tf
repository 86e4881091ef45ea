variable "hostname" {
  description = "Name of the server."
  type        = string
  default     = "ferry-k3s"
}

variable "k3s_version" {
  description = "The pinned k3s release."
  type        = string
  default     = "v1.33.4+k3s1"
}

variable "server_type" {
  description = "Hetzner server type."
  type        = string
  default     = "cx32"
}

variable "location" {
  description = "Hetzner location."
  type        = string
  default     = "fsn1"
}

variable "ssh_authorized_keys" {
  description = "Public SSH keys for the admin user."
  type        = list(string)
}

variable "admin_cidrs" {
  description = "Networks allowed to reach SSH and the Kubernetes API."
  type        = list(string)
}
