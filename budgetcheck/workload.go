package budgetcheck

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pgfleet/pgfleet/dbx/budget"
)

// workload is a pod-owning object reduced to what the budget needs.
type workload struct {
	loc         Location
	kind        string
	ns, name    string
	annotations map[string]string // the object's, overridden by the pod template's
	pod         *corev1.PodSpec
	labels      map[string]string // pod template labels, for Service selectors
	pods        Number            // replicas (before autoscaling); unknown for a DaemonSet without --nodes
	maxSurge    string            // as Kubernetes writes it; "" means the 25% default
	noSurge     string            // why there is no surge; "" when there is one
	notes       []string
}

func (w *workload) key() string { return w.ns + "/" + w.kind + "/" + w.name }

func newWorkload(o object, opts Options) *workload {
	w := &workload{loc: o.loc, kind: o.kind}
	var meta metav1.ObjectMeta
	var tmpl *corev1.PodTemplateSpec
	replicas := func(r *int32, field string) {
		if r == nil {
			w.pods = known(1, "%s not set: 1 (Kubernetes default)", field)
		} else {
			w.pods = known(int(*r), "%s", field)
		}
	}
	switch v := o.obj.(type) {
	case *appsv1.Deployment:
		meta, tmpl = v.ObjectMeta, &v.Spec.Template
		replicas(v.Spec.Replicas, "spec.replicas")
		switch st := v.Spec.Strategy; {
		case st.Type == appsv1.RecreateDeploymentStrategyType:
			w.noSurge = "strategy Recreate: no surge"
		case st.RollingUpdate != nil && st.RollingUpdate.MaxSurge != nil:
			w.maxSurge = st.RollingUpdate.MaxSurge.String()
		}
	case *appsv1.StatefulSet:
		meta, tmpl = v.ObjectMeta, &v.Spec.Template
		replicas(v.Spec.Replicas, "spec.replicas")
		w.noSurge = "StatefulSet: no surge"
	case *appsv1.ReplicaSet:
		meta, tmpl = v.ObjectMeta, &v.Spec.Template
		replicas(v.Spec.Replicas, "spec.replicas")
		w.noSurge = "ReplicaSet: no rollout"
	case *appsv1.DaemonSet:
		meta, tmpl = v.ObjectMeta, &v.Spec.Template
		if opts.Nodes > 0 {
			w.pods = known(opts.Nodes, "one per node: --nodes %d", opts.Nodes)
		} else {
			w.pods = unknown("DaemonSet: one pod per node; state the node count with --nodes")
		}
		w.noSurge = "DaemonSet: no surge"
		if ru := v.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxSurge != nil && ru.MaxSurge.String() != "0" {
			w.noSurge, w.maxSurge = "", ru.MaxSurge.String()
		}
	case *batchv1.Job:
		meta, tmpl = v.ObjectMeta, &v.Spec.Template
		replicas(v.Spec.Parallelism, "spec.parallelism")
		w.noSurge = "Job: no surge"
	case *batchv1.CronJob:
		meta, tmpl = v.ObjectMeta, &v.Spec.JobTemplate.Spec.Template
		replicas(v.Spec.JobTemplate.Spec.Parallelism, "jobTemplate.spec.parallelism")
		w.noSurge = "CronJob: no surge"
		switch v.Spec.ConcurrencyPolicy {
		case batchv1.ForbidConcurrent:
			w.pods.Source += " x 1 run (concurrencyPolicy Forbid)"
		case batchv1.ReplaceConcurrent:
			// The replaced run's pods drain while the new run starts.
			w.pods = known(budget.Mul(2, w.pods.Value), "%s x 2 runs (concurrencyPolicy Replace: the replaced run drains while the next starts)", w.pods.Source)
		default:
			w.pods.Source += " x 1 run (concurrencyPolicy Allow)"
			w.notes = append(w.notes, fmt.Sprintf("CronJob %s: concurrencyPolicy Allow lets runs overlap without limit; counted as 1 run (set Forbid to make that true)", v.Name))
		}
	default:
		return nil
	}
	w.ns, w.name, w.pod, w.labels = namespace(meta.Namespace), meta.Name, &tmpl.Spec, tmpl.Labels
	w.annotations = map[string]string{}
	for _, m := range []map[string]string{meta.Annotations, tmpl.Annotations} {
		for k, v := range m {
			w.annotations[k] = v
		}
	}
	return w
}

// namespace maps the empty namespace of un-namespaced manifests (helm
// template, kustomize without a namespace) to "default".
func namespace(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// containers lists the containers that run alongside each other: the
// regular ones and the sidecars (init containers with restartPolicy
// Always).
func (w *workload) containers() []*corev1.Container {
	var out []*corev1.Container
	for i := range w.pod.InitContainers {
		c := &w.pod.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	for i := range w.pod.Containers {
		out = append(out, &w.pod.Containers[i])
	}
	return out
}

// matches reports whether a Service selector selects this workload's pods.
func (w *workload) matches(sel map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if w.labels[k] != v {
			return false
		}
	}
	return true
}
