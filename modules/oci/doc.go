// Package oci is part of the ferry release tool; see the repository README.
package oci
