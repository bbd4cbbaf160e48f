package containers

import (
	"context"
	"fmt"

	"github.com/moby/moby/client"

	"github.com/pgfleet/pgfleet/dbx/dbxtest/topology"
)

// ContainerCluster returns the cluster label of a testcontainers node's
// container, for [ContainersOf] after the cluster is closed.
func ContainerCluster(ctx context.Context, n *topology.Node) (string, error) {
	cn, ok := n.Control().(*containerNode)
	if !ok {
		return "", fmt.Errorf("%s is not a testcontainers node", n.Name)
	}
	var cluster string
	err := cn.do(ctx, "inspect", func(cli client.APIClient, id string) error {
		insp, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err == nil {
			cluster = insp.Container.Config.Labels[labelCluster]
		}
		return err
	})
	return cluster, err
}

// ContainersOf lists the containers (in any state) and networks that Docker
// still has for a cluster, as "container <name> <state>" and "network <name>".
func ContainersOf(ctx context.Context, cluster string) ([]string, error) {
	b, err := findContainers()
	if err != nil {
		return nil, err
	}
	cli := b.docker
	defer cli.Close() // its idle connections; the client stays usable
	filters := make(client.Filters).Add("label", labelCluster+"="+cluster)
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filters})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range list.Items {
		out = append(out, fmt.Sprintf("container %v %s", c.Names, c.State))
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filters})
	if err != nil {
		return nil, err
	}
	for _, n := range nets.Items {
		out = append(out, "network "+n.Name)
	}
	return out, nil
}
