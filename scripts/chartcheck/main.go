// chartcheck decodes every manifest that `helm template` rendered into the Go type that the API
// server and the operators decode it into, refusing unknown and duplicate fields: a misspelt or
// misindented key fails here, where `kubectl apply` would drop it silently (or a CRD's pruning
// would). It also checks what the API server checks across fields of one object and what only
// shows once objects meet (a probe on a port the container does not name, a Service or
// ServiceMonitor whose selector matches no pod), since no cluster is at hand.
//
//	chartcheck [-extract DIR] MANIFEST.yaml...
//
// -extract writes each ConfigMap key to DIR/KEY, the sluice container's environment variable
// names to DIR/env (one a line) and its Secret mount paths to DIR/secret-mounts, so the check
// script can run `sluice check-config` on the rendered config.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// The kinds the chart renders. Anything else is an error: a new template needs a line here.
var kinds = map[schema.GroupVersionKind]func() any{
	{Version: "v1", Kind: "ConfigMap"}:                                      func() any { return &corev1.ConfigMap{} },
	{Version: "v1", Kind: "Service"}:                                        func() any { return &corev1.Service{} },
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                      func() any { return &appsv1.Deployment{} },
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:           func() any { return &policyv1.PodDisruptionBudget{} },
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}:  func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}: func() any { return &monitoringv1.ServiceMonitor{} },
	{Group: "keda.sh", Version: "v1alpha1", Kind: "ScaledObject"}:           func() any { return &kedav1alpha1.ScaledObject{} },
	{Group: "keda.sh", Version: "v1alpha1", Kind: "TriggerAuthentication"}:  func() any { return &kedav1alpha1.TriggerAuthentication{} },
}

type object struct {
	gvk  schema.GroupVersionKind
	name string
	obj  any
}

func main() {
	extract := flag.String("extract", "", "write ConfigMap data, env names and Secret mount paths here")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: chartcheck [-extract DIR] MANIFEST.yaml...")
		os.Exit(2)
	}
	var objects []object
	var problems []string
	for _, path := range flag.Args() {
		objs, errs := decodeFile(path)
		objects = append(objects, objs...)
		problems = append(problems, errs...)
	}
	problems = append(problems, crossCheck(objects)...)
	if *extract != "" && len(problems) == 0 {
		if err := extractConfig(objects, *extract); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, p := range problems {
		fmt.Println("  problem:", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
	names := make([]string, 0, len(objects))
	for _, o := range objects {
		names = append(names, o.gvk.Kind+"/"+o.name)
	}
	fmt.Printf("  %d objects decoded strictly: %s\n", len(objects), strings.Join(names, " "))
}

func decodeFile(path string) ([]object, []string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []string{err.Error()}
	}
	defer f.Close()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var objects []object
	var problems []string
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return objects, append(problems, fmt.Sprintf("%s: document %d: %v", path, i, err))
		}
		if isEmpty(doc) {
			continue
		}
		var head struct {
			metav1.TypeMeta `json:",inline"`
			Metadata        struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			problems = append(problems, fmt.Sprintf("%s: document %d: %v", path, i, err))
			continue
		}
		gvk := head.GroupVersionKind()
		where := fmt.Sprintf("%s: %s %s/%s", path, head.APIVersion, head.Kind, head.Metadata.Name)
		newObj, ok := kinds[gvk]
		if !ok {
			problems = append(problems, where+": a kind chartcheck does not know")
			continue
		}
		obj := newObj()
		// UnmarshalStrict: unknown fields and duplicate keys are errors, as with
		// `kubectl apply --validate=strict`.
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", where, err))
			continue
		}
		for _, p := range checkObject(obj) {
			problems = append(problems, where+": "+p)
		}
		objects = append(objects, object{gvk: gvk, name: head.Metadata.Name, obj: obj})
	}
	return objects, problems
}

func isEmpty(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' && string(line) != "---" {
			return false
		}
	}
	return true
}

func errs(list field.ErrorList) []string {
	out := make([]string, 0, len(list))
	for _, e := range list {
		out = append(out, e.Error())
	}
	return out
}

// checkObject repeats the API server's checks that need no cluster and that the chart can get
// wrong: names, labels, selectors, and references inside a pod template.
func checkObject(obj any) []string {
	var problems []string
	meta := obj.(metav1.ObjectMetaAccessor).GetObjectMeta()
	for _, msg := range utilvalidation.IsDNS1123Subdomain(meta.GetName()) {
		problems = append(problems, "metadata.name: "+msg)
	}
	problems = append(problems, errs(metavalidation.ValidateLabels(meta.GetLabels(), field.NewPath("metadata", "labels")))...)
	switch o := obj.(type) {
	case *appsv1.Deployment:
		problems = append(problems, checkDeployment(o)...)
	case *corev1.Service:
		for _, msg := range utilvalidation.IsDNS1035Label(o.Name) {
			problems = append(problems, "a Service name must be a DNS-1035 label: "+msg)
		}
		for _, p := range o.Spec.Ports {
			for _, msg := range utilvalidation.IsValidPortNum(int(p.Port)) {
				problems = append(problems, fmt.Sprintf("spec.ports[%s].port: %s", p.Name, msg))
			}
		}
	case *policyv1.PodDisruptionBudget:
		if (o.Spec.MinAvailable == nil) == (o.Spec.MaxUnavailable == nil) {
			problems = append(problems, "spec: exactly one of minAvailable and maxUnavailable")
		}
		problems = append(problems, checkSelector(o.Spec.Selector)...)
	case *autoscalingv2.HorizontalPodAutoscaler:
		if o.Spec.MinReplicas != nil && *o.Spec.MinReplicas > o.Spec.MaxReplicas {
			problems = append(problems, "spec.minReplicas is more than spec.maxReplicas")
		}
	case *kedav1alpha1.ScaledObject:
		for i, t := range o.Spec.Triggers {
			if t.Type == "" {
				problems = append(problems, fmt.Sprintf("spec.triggers[%d].type is empty", i))
			}
		}
	}
	return problems
}

func checkSelector(s *metav1.LabelSelector) []string {
	if s == nil {
		return []string{"no selector"}
	}
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		return []string{"selector: " + err.Error()}
	}
	return nil
}

func checkDeployment(d *appsv1.Deployment) []string {
	var problems []string
	problems = append(problems, checkSelector(d.Spec.Selector)...)
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err == nil &&
		!sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		problems = append(problems, "spec.selector does not match spec.template.metadata.labels")
	}
	pod := d.Spec.Template.Spec
	volumes := map[string]bool{}
	for _, v := range pod.Volumes {
		if volumes[v.Name] {
			problems = append(problems, "volume "+v.Name+" is defined twice")
		}
		volumes[v.Name] = true
		if v.Secret != nil && v.Secret.DefaultMode != nil && (*v.Secret.DefaultMode < 0 || *v.Secret.DefaultMode > 0o777) {
			problems = append(problems, "volume "+v.Name+": defaultMode out of range")
		}
	}
	for _, c := range pod.Containers {
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
			for _, msg := range utilvalidation.IsValidPortName(p.Name) {
				problems = append(problems, "port name "+p.Name+": "+msg)
			}
		}
		for what, probe := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
			if probe == nil || probe.HTTPGet == nil {
				continue
			}
			if port := probe.HTTPGet.Port; port.StrVal != "" && !ports[port.StrVal] {
				problems = append(problems, fmt.Sprintf("container %s: %s port %q is not a named container port", c.Name, what, port.StrVal))
			}
		}
		mounts := map[string]bool{}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				problems = append(problems, fmt.Sprintf("container %s: volumeMount %s names no volume", c.Name, m.Name))
			}
			if mounts[m.MountPath] {
				problems = append(problems, fmt.Sprintf("container %s: two volumes mounted at %s", c.Name, m.MountPath))
			}
			mounts[m.MountPath] = true
		}
		envs := map[string]bool{}
		for _, e := range c.Env {
			if envs[e.Name] {
				problems = append(problems, fmt.Sprintf("container %s: env %s is set twice", c.Name, e.Name))
			}
			envs[e.Name] = true
		}
	}
	return problems
}

// crossCheck: what only shows once the objects meet.
func crossCheck(objects []object) []string {
	var problems []string
	var deployments []*appsv1.Deployment
	for _, o := range objects {
		if d, ok := o.obj.(*appsv1.Deployment); ok {
			deployments = append(deployments, d)
		}
	}
	podPort := func(selects func(labels.Set) bool, name string) bool {
		for _, d := range deployments {
			if !selects(labels.Set(d.Spec.Template.Labels)) {
				continue
			}
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, p := range c.Ports {
					if p.Name == name {
						return true
					}
				}
			}
		}
		return false
	}
	scaleTarget := func(kind, name string) bool {
		for _, d := range deployments {
			if kind == "Deployment" && d.Name == name {
				return true
			}
		}
		return false
	}
	var services []*corev1.Service
	for _, o := range objects {
		switch x := o.obj.(type) {
		case *corev1.Service:
			services = append(services, x)
			sel := labels.SelectorFromSet(x.Spec.Selector)
			for _, p := range x.Spec.Ports {
				matches := func(l labels.Set) bool { return sel.Matches(l) }
				if p.TargetPort.StrVal != "" && !podPort(matches, p.TargetPort.StrVal) {
					problems = append(problems, fmt.Sprintf("Service %s: targetPort %q is no container port of a pod it selects", x.Name, p.TargetPort.StrVal))
				}
			}
		case *policyv1.PodDisruptionBudget:
			sel, _ := metav1.LabelSelectorAsSelector(x.Spec.Selector)
			if !podPort(func(l labels.Set) bool { return sel != nil && sel.Matches(l) }, "metrics") {
				problems = append(problems, "PodDisruptionBudget "+x.Name+" selects no pod of the chart")
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if !scaleTarget(x.Spec.ScaleTargetRef.Kind, x.Spec.ScaleTargetRef.Name) {
				problems = append(problems, "HorizontalPodAutoscaler "+x.Name+" scales no Deployment of the chart")
			}
		case *kedav1alpha1.ScaledObject:
			if !scaleTarget(x.Spec.ScaleTargetRef.Kind, x.Spec.ScaleTargetRef.Name) {
				problems = append(problems, "ScaledObject "+x.Name+" scales no Deployment of the chart")
			}
		}
	}
	for _, o := range objects {
		sm, ok := o.obj.(*monitoringv1.ServiceMonitor)
		if !ok {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
		found := false
		for _, s := range services {
			if err == nil && sel.Matches(labels.Set(s.Labels)) {
				for _, ep := range sm.Spec.Endpoints {
					for _, p := range s.Spec.Ports {
						found = found || p.Name == ep.Port
					}
				}
			}
		}
		if !found {
			problems = append(problems, "ServiceMonitor "+sm.Name+" selects no Service port of the chart")
		}
	}
	return problems
}

func extractConfig(objects []object, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, o := range objects {
		switch x := o.obj.(type) {
		case *corev1.ConfigMap:
			for key, value := range x.Data {
				if err := os.WriteFile(filepath.Join(dir, key), []byte(value), 0o644); err != nil {
					return err
				}
			}
		case *appsv1.Deployment:
			var env, mounts []string
			for _, c := range x.Spec.Template.Spec.Containers {
				for _, e := range c.Env {
					env = append(env, e.Name)
				}
				for _, m := range c.VolumeMounts {
					if m.Name != "config" {
						mounts = append(mounts, m.MountPath)
					}
				}
			}
			sort.Strings(env)
			sort.Strings(mounts)
			if err := os.WriteFile(filepath.Join(dir, "env"), []byte(strings.Join(env, "\n")+"\n"), 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, "secret-mounts"), []byte(strings.Join(mounts, "\n")+"\n"), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
