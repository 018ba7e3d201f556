// composecheck checks a compose file without a Docker engine, for scripts/check-compose.
//
//	composecheck docker-compose.yml
//
// It loads the file with compose-go, the library `docker compose` itself parses with, so the
// file is validated against the compose-spec JSON schema, interpolated, merged (YAML anchors,
// x- extensions) and checked for consistency (depends_on, volumes and networks that exist).
// On top of that it checks what the engine would only find at `up`: every bind-mounted file
// and build context exists, every build target is a stage of its Dockerfile, and every
// service waited on with service_healthy has a healthcheck. One line per check, then exit 1
// if any failed.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var failed bool

func report(ok bool, format string, args ...any) {
	status := "ok  "
	if !ok {
		status = "FAIL"
		failed = true
	}
	fmt.Printf("%s compose: %s\n", status, fmt.Sprintf(format, args...))
}

// stages returns the stage names (FROM ... AS name) of a Dockerfile, lower-cased as
// BuildKit compares them.
func stages(dockerfile string) (map[string]bool, error) {
	f, err := os.Open(dockerfile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	from := regexp.MustCompile(`(?i)^\s*FROM\s+\S+\s+AS\s+(\S+)`)
	names := map[string]bool{}
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		if m := from.FindStringSubmatch(scan.Text()); m != nil {
			names[strings.ToLower(m[1])] = true
		}
	}
	return names, scan.Err()
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: composecheck COMPOSE_FILE")
		os.Exit(2)
	}
	file, err := filepath.Abs(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// No OS environment and no .env: the result must not depend on who runs the check.
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithEnv(nil),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true))
	if err == nil {
		var project *types.Project
		project, err = opts.LoadProject(context.Background())
		if err == nil {
			report(true, "%s valid (compose-spec schema, consistency; %d services)",
				filepath.Base(file), len(project.Services))
			checkProject(project)
		}
	}
	if err != nil {
		report(false, "%s: %v", filepath.Base(file), err)
	}
	if failed {
		os.Exit(1)
	}
}

func checkProject(p *types.Project) {
	names := p.ServiceNames()
	sort.Strings(names)
	root := p.WorkingDir
	rel := func(path string) string {
		if r, err := filepath.Rel(root, path); err == nil {
			return r
		}
		return path
	}
	for _, name := range names {
		svc := p.Services[name]
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			// Docker would create a missing bind source as an empty directory, so a
			// misspelt config path only shows up as a confusing error inside the container.
			_, err := os.Stat(v.Source)
			report(err == nil, "%s mounts %s (exists: %v)", name, rel(v.Source), err == nil)
		}
		if b := svc.Build; b != nil {
			dockerfile := b.Dockerfile
			if dockerfile == "" {
				dockerfile = "Dockerfile"
			}
			if !filepath.IsAbs(dockerfile) {
				dockerfile = filepath.Join(b.Context, dockerfile)
			}
			found, err := stages(dockerfile)
			switch {
			case err != nil:
				report(false, "%s builds from %s: %v", name, rel(dockerfile), err)
			case b.Target != "" && !found[strings.ToLower(b.Target)]:
				report(false, "%s builds target %q, not a stage of %s", name, b.Target, rel(dockerfile))
			default:
				report(true, "%s builds %s target %q", name, rel(dockerfile), b.Target)
			}
		}
		deps := make([]string, 0, len(svc.DependsOn))
		for dep := range svc.DependsOn {
			deps = append(deps, dep)
		}
		sort.Strings(deps)
		for _, dep := range deps {
			if svc.DependsOn[dep].Condition != types.ServiceConditionHealthy {
				continue
			}
			// The engine refuses to start a service that waits for health on one without a
			// healthcheck; the loader does not check it.
			hc := p.Services[dep].HealthCheck
			ok := hc != nil && !hc.Disable && len(hc.Test) > 0
			report(ok, "%s waits for %s healthy (has a healthcheck: %v)", name, dep, ok)
		}
	}
}
