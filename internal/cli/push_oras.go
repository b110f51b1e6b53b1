package cli

import (
	"context"
	"fmt"

	"github.com/silo-hpc/silo/internal/client"
	"github.com/silo-hpc/silo/internal/credstore"
)

// pushOras pushes a SIF to an OCI registry as Singularity's `push oras://`
// does, with the credentials Singularity's precedence gives.
func pushOras(ctx context.Context, out *Out, o *pushOptions, file string, facts sifFacts, ref client.Ref) error {
	cred, err := credstore.Resolve(ctx, credstore.ResolveOptions{Username: o.creds.username, Password: o.creds.password,
		AuthFile: o.creds.authFile, Warnf: out.Warnf}, ref.Host, ref.Path)
	if err != nil {
		return err
	}
	sum, _, err := fileSHA256(file)
	if err != nil {
		return err
	}
	reg := client.OCI{Host: registryHost(ref.Host), Insecure: o.noHTTPS, HTTP: transferHTTP, Username: cred.Username,
		Password: cred.Password, RegistryToken: cred.RegistryToken}
	b := newBar(out)
	if b != nil {
		b.Begin(facts.size, 0)
	}
	manifest, err := reg.PushSIF(ctx, ref.Path, file, sum, facts.size, ref.Tags, b.wrapper())
	b.finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(out.Stdout, "[Return status 201 Created] %s@%s\n", ref.Scheme+"://"+ref.Host+"/"+ref.Path, manifest)
	return nil
}
