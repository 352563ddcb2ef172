// Command joule is the one joule binary: the server (joule up), and the
// command line that talks to it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/joule-dev/joule/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	if err != nil {
		code := 1
		if ee, ok := errors.AsType[*cli.ExitError](err); ok {
			code = ee.Code
		}
		if msg := cli.ErrorText(err); msg != "" {
			fmt.Fprintln(os.Stderr, "Error:", msg)
		}
		os.Exit(code)
	}
}

// run is the whole program, minus the process: tests call it in process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	m := &cli.Main{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv, Up: up, Worker: worker}
	return m.Run(ctx, args)
}
