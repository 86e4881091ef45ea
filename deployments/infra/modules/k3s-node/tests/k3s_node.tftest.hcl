run "pins_k3s_and_bootstraps_argocd" {
  command = plan

  assert {
    condition     = strcontains(output.cloud_init, "INSTALL_K3S_VERSION='v1.33.4+k3s1'")
    error_message = "cloud-init does not install the pinned k3s version"
  }

  assert {
    condition     = strcontains(output.manifests["ferry-argocd.yaml"], "version: \"8.3.0\"")
    error_message = "the Argo CD chart is not pinned"
  }

  assert {
    condition     = strcontains(output.manifests["ferry-policy-controller.yaml"], "version: \"0.9.0\"") && strcontains(output.cloud_init, "/var/lib/rancher/k3s/server/manifests/ferry-policy-controller.yaml")
    error_message = "the signature policy-controller is not installed at a pinned chart version"
  }

  assert {
    condition     = strcontains(output.manifests["ferry-root.yaml"], "path: deployments/argocd")
    error_message = "the root Application does not sync deployments/argocd"
  }

  assert {
    condition     = strcontains(output.cloud_init, "/var/lib/rancher/k3s/server/manifests/ferry-root.yaml")
    error_message = "the root Application is not in k3s's auto-deploy folder"
  }
}

run "refuses_an_unpinned_k3s" {
  command = plan

  variables {
    k3s_version = "stable"
  }

  expect_failures = [var.k3s_version]
}

run "refuses_a_chart_range" {
  command = plan

  variables {
    argocd_chart_version = "~> 8.3"
  }

  expect_failures = [var.argocd_chart_version]
}

run "refuses_a_policy_controller_chart_range" {
  command = plan

  variables {
    policy_controller_chart_version = "latest"
  }

  expect_failures = [var.policy_controller_chart_version]
}
