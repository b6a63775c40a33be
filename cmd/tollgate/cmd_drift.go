package main

import "github.com/tollgate-dev/tollgate/server"

func init() {
	register("drift", "check every server runs exactly the release Tollgate put live, file by file (exit 1 on drift)", server.RunDriftCommand)
}
