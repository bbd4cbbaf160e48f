package budgetcheck

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// envValue is one environment variable of a container as Kubernetes would
// set it, with where it came from. A value from a Secret is used for
// arithmetic but never printed: only origin is.
type envValue struct {
	value  string
	origin string // e.g. "env POOL (ConfigMap app key pool)"
	// secret names the Secret key the value (or a $(VAR) in it) came from,
	// "Secret ns/name key k"; empty when no Secret went into it.
	secret  string
	missing bool // the referenced ConfigMap or Secret key is not in the manifests
}

// shown is what a report may print about the value: the value itself, or
// only its origin when it comes from a Secret.
func (v envValue) shown() string {
	if v.secret != "" {
		return v.origin
	}
	return fmt.Sprintf("%s=%q", v.origin, v.value)
}

// setting is the value as a configuration [setting], provenance kept.
func (v envValue) setting() setting {
	return setting{value: v.value, source: v.origin, secret: v.secret}
}

// quote is what a report prints for a value read from the manifests: the
// value in quotes, or, when it came from a Secret (secret names the key),
// a placeholder naming that key. It is the one place that decides, so that
// no message, whatever its format, can print a Secret's value.
func quote(value, secret string) string {
	if secret != "" {
		return "<value from " + secret + ">"
	}
	return strconv.Quote(value)
}

// secretRef names one key of a Secret for [quote] and provenance.
func secretRef(ns, name, key string) string {
	return fmt.Sprintf("Secret %s key %s", nsName(ns, name), key)
}

// containerEnv resolves a container's environment with Kubernetes
// precedence: envFrom sources in order (a later one wins), then env entries
// (which win over envFrom; a later duplicate wins), with $(VAR) expansion.
func (ix *index) containerEnv(ns string, c *corev1.Container) (map[string]envValue, []string) {
	vars := map[string]envValue{}
	var notes []string
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := ix.configMaps[nsName(ns, ef.ConfigMapRef.Name)]
			if cm == nil {
				notes = append(notes, fmt.Sprintf("envFrom ConfigMap %s is not in the manifests", ef.ConfigMapRef.Name))
				continue
			}
			for k, v := range cm.Data {
				vars[ef.Prefix+k] = envValue{value: v, origin: fmt.Sprintf("env %s%s (envFrom ConfigMap %s)", ef.Prefix, k, cm.Name)}
			}
		case ef.SecretRef != nil:
			s := ix.secrets[nsName(ns, ef.SecretRef.Name)]
			if s == nil {
				notes = append(notes, fmt.Sprintf("envFrom Secret %s is not in the manifests", ef.SecretRef.Name))
				continue
			}
			for k, v := range secretData(s) {
				vars[ef.Prefix+k] = envValue{value: v, secret: secretRef(ns, s.Name, k), origin: fmt.Sprintf("env %s%s (envFrom Secret %s)", ef.Prefix, k, s.Name)}
			}
		}
	}
	for _, e := range c.Env {
		vars[e.Name] = ix.envVar(ns, e, vars)
	}
	return vars, notes
}

func (ix *index) envVar(ns string, e corev1.EnvVar, vars map[string]envValue) envValue {
	vf := e.ValueFrom
	switch {
	case vf == nil:
		v, secret := expand(e.Value, vars)
		return envValue{value: v, secret: secret, origin: "env " + e.Name}
	case vf.ConfigMapKeyRef != nil:
		ref := vf.ConfigMapKeyRef
		origin := fmt.Sprintf("env %s (ConfigMap %s key %s)", e.Name, ref.Name, ref.Key)
		if cm := ix.configMaps[nsName(ns, ref.Name)]; cm != nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return envValue{value: v, origin: origin}
			}
		}
		return envValue{origin: origin + ", not in the manifests", missing: true}
	case vf.SecretKeyRef != nil:
		ref := vf.SecretKeyRef
		origin := fmt.Sprintf("env %s (Secret %s key %s)", e.Name, ref.Name, ref.Key)
		if s := ix.secrets[nsName(ns, ref.Name)]; s != nil {
			if v, ok := secretValue(s, ref.Key); ok {
				return envValue{value: v, origin: origin, secret: secretRef(ns, ref.Name, ref.Key)}
			}
		}
		return envValue{origin: origin + ", not in the manifests", missing: true, secret: secretRef(ns, ref.Name, ref.Key)}
	}
	return envValue{origin: fmt.Sprintf("env %s (fieldRef or resourceFieldRef)", e.Name), missing: true}
}

// expand substitutes $(VAR) references to variables defined earlier, as
// the kubelet does; $$ escapes. It returns the first Secret key whose value
// went in, or "".
func expand(s string, vars map[string]envValue) (string, string) {
	if !strings.Contains(s, "$") {
		return s, ""
	}
	var b strings.Builder
	secret := ""
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
			continue
		case '(':
			if j := strings.IndexByte(s[i:], ')'); j > 0 {
				name := s[i+2 : i+j]
				if v, ok := vars[name]; ok {
					b.WriteString(v.value)
					secret = cmp.Or(secret, v.secret)
					i += j
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String(), secret
}

// secretData is a Secret's keys as the pod sees them: stringData wins over
// data, as the API server merges them.
func secretData(s *corev1.Secret) map[string]string {
	out := make(map[string]string, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		out[k] = string(v)
	}
	for k, v := range s.StringData {
		out[k] = v
	}
	return out
}

// secretValue is one key of [secretData], without copying the others.
func secretValue(s *corev1.Secret, key string) (string, bool) {
	if v, ok := s.StringData[key]; ok {
		return v, true
	}
	v, ok := s.Data[key]
	return string(v), ok
}

func nsName(ns, name string) string { return ns + "/" + name }
