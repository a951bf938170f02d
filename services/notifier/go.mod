module github.com/batchd/batchd/services/notifier

go 1.26

require github.com/batchd/batchd/pkg v0.0.0

replace github.com/batchd/batchd/pkg => ../../pkg
