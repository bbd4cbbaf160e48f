package budgetcheck

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The custom resources the checker reads, reduced to the fields it needs.
// Their Go modules are not dependencies: a few fields do not justify one.

// scaledObject is KEDA's keda.sh/v1alpha1 ScaledObject.
type scaledObject struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"` // default Deployment
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		MinReplicaCount *int32 `json:"minReplicaCount"` // default 0
		MaxReplicaCount *int32 `json:"maxReplicaCount"` // default 100
	} `json:"spec"`
}

// pgParameters is the postgresql.conf parameters map the operators share.
type pgParameters struct {
	Parameters map[string]paramValue `json:"parameters"`
}

// paramValue is a parameter written as a string, a number or a boolean
// (Crunchy's dynamicConfiguration is untyped).
type paramValue string

func (p *paramValue) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = paramValue(fmt.Sprint(v))
	return nil
}

// cnpgCluster is CloudNativePG's postgresql.cnpg.io/v1 Cluster.
type cnpgCluster struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Instances  int          `json:"instances"`
		PostgreSQL pgParameters `json:"postgresql"`
	} `json:"spec"`
}

// cnpgPooler is CloudNativePG's postgresql.cnpg.io/v1 Pooler (PgBouncer).
type cnpgPooler struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Cluster struct {
			Name string `json:"name"`
		} `json:"cluster"`
		Instances *int32 `json:"instances"` // default 1
		Type      string `json:"type"`      // rw (default) or ro
		PgBouncer struct {
			PoolMode   string            `json:"poolMode"`
			Parameters map[string]string `json:"parameters"`
		} `json:"pgbouncer"`
	} `json:"spec"`
}

// zalandoPostgresql is the Zalando operator's acid.zalan.do/v1 postgresql.
type zalandoPostgresql struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		NumberOfInstances             int          `json:"numberOfInstances"`
		PostgreSQL                    pgParameters `json:"postgresql"`
		EnableConnectionPooler        *bool        `json:"enableConnectionPooler"`
		EnableReplicaConnectionPooler *bool        `json:"enableReplicaConnectionPooler"`
		ConnectionPooler              *struct {
			NumberOfInstances *int32 `json:"numberOfInstances"`
			MaxDBConnections  *int32 `json:"maxDBConnections"`
		} `json:"connectionPooler"`
	} `json:"spec"`
}

// crunchyCluster is Crunchy's postgres-operator.crunchydata.com/v1beta1
// PostgresCluster.
type crunchyCluster struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Patroni struct {
			DynamicConfiguration struct {
				PostgreSQL pgParameters `json:"postgresql"`
			} `json:"dynamicConfiguration"`
		} `json:"patroni"`
		Users []struct {
			Name      string   `json:"name"`
			Databases []string `json:"databases"`
		} `json:"users"`
		Proxy struct {
			PgBouncer *struct {
				Replicas *int32 `json:"replicas"` // default 1
				Config   struct {
					Global map[string]string `json:"global"`
				} `json:"config"`
			} `json:"pgBouncer"`
		} `json:"proxy"`
	} `json:"spec"`
}
