module example.com/beta

go 1.26.0
