// Package replicatest runs Silo as several replicas, the way a site
// scales out: two real composed servers on one PostgreSQL database and one
// S3 bucket (versitygw), behind a round-robin balancer that sends
// consecutive requests of one upload to different replicas. Its tests
// (the package holds nothing else) drive them with real clients:
// scs-library-client, go-containerregistry and raw OCI requests.
// docs/deploy.md describes such a deployment.
package replicatest
