# Lockstep. `make serve` and `make test` do all the set-up they need (scripts/setup.sh).
.PHONY: serve dist test test-native test-browser verify lint bench bench-live setup clean

WEB_SOURCES := $(shell find src crates/planner/src style scripts -type f 2>/dev/null) index.html Cargo.toml Cargo.lock package.json

## Build (once, or when sources changed) and serve the app at http://127.0.0.1:8080
serve: dist/index.html
	node scripts/serve.mjs dist 8080 127.0.0.1

## Release build: dist/ for any static server and dist/lockstep.html, the single offline file
dist: dist/index.html

dist/index.html: $(WEB_SOURCES)
	bash scripts/setup.sh web
	bash scripts/build-web.sh

## Every test: lint, native tests, browser smoke test of the release build, live verification
test: lint test-native test-browser verify

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

# The property tests replay one fixed seed here, so whether a submission lands never depends
# on the draw; plain `cargo test` draws fresh cases each run (set PROPTEST_RNG_SEED to replay).
PROPTEST_RNG_SEED ?= 20261205
test-native:
	PROPTEST_RNG_SEED=$(PROPTEST_RNG_SEED) cargo test --workspace --quiet

test-browser: dist/index.html
	bash scripts/setup.sh browser
	node tests/browser/smoke.mjs

verify:
	bash scripts/setup.sh postgres
	bash scripts/setup.sh mariadb
	cargo run --release --quiet -p lockstep-verify -- --engines postgresql,mariadb --versions all

## Benchmarks print numbers; they never fail on timing
bench: dist/index.html
	cargo bench -p lockstep-planner --quiet
	cargo bench -p lockstep-sqlfile --quiet
	@cat target/web/sizes.txt
	bash scripts/setup.sh browser
	node tests/browser/bench.mjs

bench-live:
	bash scripts/setup.sh postgres
	cargo run --release --quiet -p lockstep-verify -- bench-live

setup:
	bash scripts/setup.sh all

clean:
	rm -rf dist target/web target/browser target/verify
