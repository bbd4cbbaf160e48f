package budgetcheck_test

import (
	"fmt"

	"github.com/pgfleet/pgfleet/budgetcheck"
)

func ExampleAnalyze() {
	manifest := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 8
  template:
    spec:
      containers:
        - name: app
          image: api:1
          env: [{name: DATABASE_URL, value: "postgres://api:pw@db/app?pool_max_conns=10"}]
`
	r := budgetcheck.Analyze([]budgetcheck.Source{{Name: "api.yaml", Data: []byte(manifest)}}, budgetcheck.Options{MaxConnections: 100})
	d := r.Databases[0]
	fmt.Println(d.ID, d.Verdict, d.WorstCase, "of", d.Usable)
	fmt.Println(d.Clients[0].Explanation)
	fmt.Println("fits:", d.Clients[0].SuggestedPool)
	// Output:
	// external:db over 100 of 97
	// default/Deployment/api/app: demand 100 = (pods 8 + surge 2) x processes 1 x pool 10
	// fits: 9
}
