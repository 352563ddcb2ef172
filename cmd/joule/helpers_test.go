package main

import "github.com/joule-dev/joule/internal/cli"

func errorLine(err error) string { return cli.ErrorText(err) }
