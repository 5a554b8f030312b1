module github.com/vigilhq/vigil

go 1.26.8

require (
	github.com/oklog/ulid/v2 v2.1.2
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
