module github.com/kerasncp-go/kerasncp-go

go 1.26.8
