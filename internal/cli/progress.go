package cli

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/silo-hpc/silo/internal/client"
)

// transferHTTP carries image transfers. It has no overall timeout (an
// image may take an hour); the transport bounds the connection and the
// wait for response headers instead. Tests wrap its transport.
var transferHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	ForceAttemptHTTP2:     true,
	TLSHandshakeTimeout:   15 * time.Second,
	ResponseHeaderTimeout: 2 * time.Minute,
	MaxIdleConnsPerHost:   8,
	IdleConnTimeout:       90 * time.Second,
}}

// isTerminal reports whether a stream (*os.File) is a terminal: progress
// bars are drawn only there, so logs and pipes stay clean.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// bar is a progress bar on the command's stderr, as seed 004 draws it
// ("Progress |=====| 100%"), or nothing when stderr is not a terminal.
type bar struct {
	w  io.Writer
	pb *progressbar.ProgressBar
}

// newBar returns a bar for a transfer, nil when none is to be drawn.
func newBar(out *Out) *bar {
	if !isTerminal(out.Stderr) {
		return nil
	}
	return &bar{w: out.Stderr}
}

// progress is the bar as the client's Progress (a nil interface when
// there is no bar).
func (b *bar) progress() client.Progress {
	if b == nil {
		return nil
	}
	return b
}

func (b *bar) Begin(total, done int64) {
	b.pb = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription("Progress"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetWidth(35),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetTheme(progressbar.Theme{Saucer: "=", SaucerPadding: " ", BarStart: "|", BarEnd: "|"}),
		progressbar.OptionSetPredictTime(true),
	)
	if done > 0 {
		_ = b.pb.Set64(done)
	}
}

func (b *bar) Add(n int) {
	if b.pb != nil {
		_ = b.pb.Add(n)
	}
}

// finish completes the bar's line.
func (b *bar) finish() {
	if b == nil || b.pb == nil {
		return
	}
	_ = b.pb.Finish()
	fmt.Fprintln(b.w)
}

// wrapper counts what an upload reads on the bar; nil without a bar (so
// the upload may hand the file to the kernel as it is).
func (b *bar) wrapper() func(io.Reader) io.Reader {
	if b == nil {
		return nil
	}
	return func(r io.Reader) io.Reader { return &countingReader{r: r, b: b} }
}

type countingReader struct {
	r io.Reader
	b *bar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.b.Add(n)
	return n, err
}
