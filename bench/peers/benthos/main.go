// A minimal Benthos (v4.27.0, MIT) for the side-by-side benchmark (bench/peers/run): only the
// components the equivalent pipeline needs, kafka_franz (kafka), fan_out and http_client
// (pure, io), so that it builds in minutes from the Go module proxy.
package main

import (
	"context"

	_ "github.com/benthosdev/benthos/v4/public/components/io"
	_ "github.com/benthosdev/benthos/v4/public/components/kafka"
	_ "github.com/benthosdev/benthos/v4/public/components/pure"
	"github.com/benthosdev/benthos/v4/public/service"
)

func main() {
	service.RunCLI(context.Background())
}
