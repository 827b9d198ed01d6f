# A new user's two commands: `make run` and `make test` (see README.md).
.PHONY: run test build clean

run:
	@scripts/run.sh

test:
	@scripts/test.sh

build:
	swift build

clean:
	rm -rf .build .run
