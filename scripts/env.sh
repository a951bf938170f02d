# Sourced by the scripts: the build settings every Go command here needs.
# The Podman bindings build without cgo with these tags.
export CGO_ENABLED=0
export GOFLAGS="-tags=remote,containers_image_openpgp,exclude_graphdriver_btrfs"
export PATH="$PATH:/usr/local/go/bin"
# modules prints the package patterns of every module of the workspace.
modules() { go list -m -f "{{.Dir}}/..." | sed "s|^$PWD/|./|"; }
