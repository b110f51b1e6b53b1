package search

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
)

// The generated library, for n containers:
//
//   - n/50 users, each with an entity of its name (user00000, …) holding
//     five collections of ten containers; the fifth collection is
//     private. Every container has one uploaded image (amd64, every
//     fourth arm64, every tenth signed and verified) tagged latest,
//     already inspected (so the server's backfill has nothing to do),
//     with the labels org.example.tool (its tool: about 1% of the images
//     each) and org.example.field (its field: an eighth each).
//   - Container names are <tool>-<number>, so each of the 100 tools hits
//     about 1% of the containers (the "hit" query); descriptions name a
//     field ("pipeline for genomics").
//   - secretive's private collection vault holds n/50 containers named
//     hush-NNNNNN; its public collection lobby holds 10 hush-public-N, and
//     its private collection shared 20 hush-team-N, granted to the team
//     of insider. An anonymous "hush" search sees 10 of n/50+30 hits,
//     insider 30.
var tools = []string{
	"abyss", "augustus", "bamtools", "bbmap", "bcftools", "beast", "bedtools", "bismark", "blast", "bowtie",
	"busco", "bwa", "canu", "cellranger", "checkm", "clustalo", "cnvkit", "cufflinks", "cutadapt", "deeptools",
	"diamond", "emboss", "fastp", "fastqc", "flye", "freebayes", "gatk", "gffread", "hisat", "hmmer",
	"htseq", "igv", "iqtree", "jellyfish", "kallisto", "kraken", "lastz", "macs", "mafft", "megahit",
	"metaphlan", "minimap", "mmseqs", "mothur", "multiqc", "muscle", "nanopolish", "ncbi", "nextflow", "orthofinder",
	"picard", "pilon", "plink", "prokka", "qiime", "quast", "racon", "raxml", "repeatmasker", "rsem",
	"salmon", "sambamba", "samtools", "seqkit", "seqtk", "shovill", "snakemake", "snpeff", "soapdenovo", "spades",
	"sratoolkit", "star", "stringtie", "subread", "tophat", "trimmomatic", "trinity", "unicycler", "vcftools", "velvet",
	"vsearch", "wtdbg", "zarr", "alphafold", "rosetta", "gromacs", "lammps", "namd", "openfoam", "paraview",
	"pytorch", "tensorflow", "jupyter", "rstudio", "octave", "julia", "gdal", "qgis", "wrf", "cp2k",
}

var fields = []string{"genomics", "proteomics", "imaging", "climate", "chemistry", "physics", "statistics", "teaching"}

// The queries: narrowQuery finds one entity and its images (40 public, 30
// of them amd64);
// hitQuery 1% of the containers and their images; missQuery nothing;
// hushQuery mostly secretive's private containers; broadQuery the
// entities user00000…user09999 and their images: all of the library at
// 100k containers, half at 1M. The label queries: labelSparse the images
// of one tool (1%, by label alone), labelDense one field's images (an
// eighth) among the 5,000 of user00100…user00199.
const (
	narrowQuery = "user01234"
	hitQuery    = "samtools"
	missQuery   = "zzqxjw"
	hushQuery   = "hush"
	broadQuery  = "user0"
	labelSparse = "label=org.example.tool=samtools"
	labelDense  = "value=user001&label=org.example.field=genomics"
	perEntity   = 50 // containers per user entity
)

// tokens are the API tokens of the generated users who search.
type tokens struct{ insider, admin string }

// generate fills s with the library above, in transactions of 5,000
// containers.
func generate(b *testing.B, s meta.Store, n int) tokens {
	ctx := context.Background()
	start := time.Now()
	const batch = 100 // entities per transaction (5,000 containers)
	users := n / perEntity
	for first := 0; first < users; first += batch {
		err := s.InTx(ctx, func(tx meta.Store) error {
			for u := first; u < min(first+batch, users); u++ {
				if err := genEntity(ctx, tx, u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	toks, err := genSecretive(ctx, s, n/perEntity)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d containers in %s", n+n/perEntity+30, time.Since(start).Round(time.Millisecond))
	return toks
}

func genEntity(ctx context.Context, tx meta.Store, u int) error {
	user := meta.User{Name: fmt.Sprintf("user%05d", u), Role: meta.RoleUser}
	if err := tx.CreateUser(ctx, &user); err != nil {
		return err
	}
	ent := meta.Entity{Name: user.Name, OwnerID: user.ID}
	if err := tx.CreateEntity(ctx, &ent); err != nil {
		return err
	}
	for c := range 5 {
		col := meta.Collection{EntityID: ent.ID, Name: fmt.Sprintf("collection-%d", c), OwnerID: user.ID, Private: c == 4}
		if err := tx.CreateCollection(ctx, &col); err != nil {
			return err
		}
		for k := range 10 {
			i := u*perEntity + c*10 + k
			name := fmt.Sprintf("%s-%d", tools[(i*7+u)%len(tools)], i)
			if err := genContainer(ctx, tx, col.ID, name, "pipeline for "+fields[i%len(fields)], i); err != nil {
				return err
			}
		}
	}
	return nil
}

func genContainer(ctx context.Context, tx meta.Store, colID, name, desc string, i int) error {
	con := meta.Container{CollectionID: colID, Name: name, Description: desc}
	if err := tx.CreateContainer(ctx, &con); err != nil {
		return err
	}
	arch, metadata := "amd64", `{"sif":true}`
	if i%4 == 3 {
		arch = "arm64"
	}
	if i%10 == 0 {
		metadata = `{"sif":true,"signed":true,"verified":true,"fingerprints":["0123456789ABCDEF0123456789ABCDEF01234567"]}`
	}
	img := meta.Image{ContainerID: con.ID, Digest: fmt.Sprintf("sha256:%064x", i), Size: 1 << 20, Arch: arch,
		Uploaded: true, Metadata: metadata}
	if err := tx.CreateImage(ctx, &img); err != nil {
		return err
	}
	if err := tx.PutInspection(ctx, &meta.Inspection{Digest: img.Digest, Version: bridge.InspectorVersion, JSON: "{}"}); err != nil {
		return err
	}
	tool, _, _ := strings.Cut(name, "-")
	labels := map[string]string{"org.example.tool": tool, "org.example.field": strings.TrimPrefix(desc, "pipeline for ")}
	if err := tx.SetLabels(ctx, img.ID, labels); err != nil {
		return err
	}
	return tx.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: con.ID, Arch: arch, Tag: "latest", ImageID: img.ID})
}

// genSecretive adds secretive's collections, insider and an admin, and
// returns the tokens of the two.
func genSecretive(ctx context.Context, s meta.Store, private int) (tokens, error) {
	a := auth.New(s)
	var t tokens
	secretive, err := a.CreateUser(ctx, "secretive", meta.RoleUser, "")
	if err != nil {
		return t, err
	}
	if _, err := a.CreateUser(ctx, "insider", meta.RoleUser, ""); err != nil {
		return t, err
	}
	if _, err := a.CreateUser(ctx, "boss", meta.RoleAdmin, ""); err != nil {
		return t, err
	}
	err = s.InTx(ctx, func(tx meta.Store) error {
		ent := meta.Entity{Name: "secretive", OwnerID: secretive.ID}
		if err := tx.CreateEntity(ctx, &ent); err != nil {
			return err
		}
		for _, c := range []struct {
			name, prefix string
			private      bool
			n            int
		}{{"vault", "hush-%06d", true, private}, {"lobby", "hush-public-%d", false, 10}, {"shared", "hush-team-%d", true, 20}} {
			col := meta.Collection{EntityID: ent.ID, Name: c.name, OwnerID: secretive.ID, Private: c.private}
			if err := tx.CreateCollection(ctx, &col); err != nil {
				return err
			}
			for k := range c.n {
				if err := genContainer(ctx, tx, col.ID, fmt.Sprintf(c.prefix, k), "", 1_000_000_000+k); err != nil {
					return err
				}
			}
			if c.name == "shared" {
				if err := shareWith(ctx, tx, col.ID, "insider"); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	if t.insider, _, err = a.IssueToken(ctx, "insider", "bench", 0); err != nil {
		return t, err
	}
	t.admin, _, err = a.IssueToken(ctx, "boss", "bench", 0)
	return t, err
}

func shareWith(ctx context.Context, tx meta.Store, colID, user string) error {
	team := meta.Team{Name: "insiders"}
	if err := tx.CreateTeam(ctx, &team); err != nil {
		return err
	}
	u, err := tx.GetUserByName(ctx, user)
	if err != nil {
		return err
	}
	if err := tx.AddTeamMember(ctx, team.ID, u.ID); err != nil {
		return err
	}
	return tx.GrantCollection(ctx, colID, team.ID)
}
