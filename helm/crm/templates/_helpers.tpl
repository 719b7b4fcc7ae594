{{/*
Helpers shared by every template. Most take a context dict:
  root: the chart's root context ($)
  name: the component key (services/<name>), used as the name of everything it owns
  c:    the component's values
*/}}

{{/* The image tag in force: default.image.tag, else the chart's appVersion. */}}
{{- define "crm.version" -}}
{{- .Values.default.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* Labels that select a component's pods; never change them after the first install. */}}
{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component | default .name }}
{{- end -}}

{{/* The standard labels of every object. */}}
{{- define "crm.labels" -}}
{{ include "crm.selectorLabels" . }}
app.kubernetes.io/version: {{ include "crm.version" .root | quote }}
app.kubernetes.io/part-of: {{ .root.Chart.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The component's image: one project image, or <repository>-<name> when perComponent. */}}
{{- define "crm.image" -}}
{{- $image := .root.Values.default.image -}}
{{- $repository := $image.repository -}}
{{- if $image.perComponent -}}
{{- $repository = printf "%s-%s" $image.repository .name -}}
{{- end -}}
{{- printf "%s:%s" $repository (include "crm.version" .root) -}}
{{- end -}}

{{/* The number of a named port of the component; fails on an unknown name. */}}
{{- define "crm.portNumber" -}}
{{- $number := get .c.ports .port -}}
{{- if not $number -}}
{{- fail (printf "components.%s: port %q is not in its ports" .name .port) -}}
{{- end -}}
{{- $number -}}
{{- end -}}

{{/* The Secret holding a component's certificate: its existingSecret, else the one its Certificate writes. */}}
{{- define "crm.tlsSecret" -}}
{{- $existing := (.c.tls | default dict).existingSecret -}}
{{- if $existing -}}
{{- $existing -}}
{{- else if .root.Values.tls.certManager.enabled -}}
{{- printf "%s-tls" .name -}}
{{- else -}}
{{- fail (printf "components.%s.tls.existingSecret: needed when tls.certManager.enabled is false" .name) -}}
{{- end -}}
{{- end -}}

{{/*
Environment: default.env, then the component's env, OTEL_SERVICE_NAME, the gRPC transport
(certificate files, or the plaintext opt-out; the probes' health port), then secretEnv. Hook Jobs
(.hook) get no transport: they run before the first certificate exists and call no service.
*/}}
{{- define "crm.env" -}}
{{- $env := mustMergeOverwrite (deepCopy .root.Values.default.env) (deepCopy (.c.env | default dict)) -}}
{{- range $key, $value := $env }}
- name: {{ $key }}
  value: {{ tpl (toString $value) $.root | quote }}
{{- end }}
- name: OTEL_SERVICE_NAME
  value: {{ .name | quote }}
{{- if not .hook }}
{{- $tls := .root.Values.tls }}
{{- if $tls.enabled }}
- name: CRM_GRPC_TLS_CERT
  value: {{ printf "%s/tls.crt" $tls.mountPath | quote }}
- name: CRM_GRPC_TLS_KEY
  value: {{ printf "%s/tls.key" $tls.mountPath | quote }}
- name: CRM_GRPC_TLS_CA
  value: {{ printf "%s/ca.crt" $tls.mountPath | quote }}
{{- else }}
- name: CRM_GRPC_PLAINTEXT
  value: "true"
{{- end }}
{{- with .c.ports.health }}
- name: CRM_GRPC_HEALTH_PORT
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- range $key, $ref := .c.secretEnv }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secretName }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}

{{/* Resources: default.resources deep-merged with the component's. */}}
{{- define "crm.resources" -}}
{{- mustMergeOverwrite (deepCopy .root.Values.default.resources) (deepCopy (.c.resources | default dict)) | toYaml -}}
{{- end -}}

{{/* One probe: the action (gRPC or HTTP) plus its timings. Takes the context and kind, path. */}}
{{- define "crm.probe" -}}
{{- $timing := mustMergeOverwrite (deepCopy (get .root.Values.default.probes .kind)) (deepCopy (get .c.probes .kind | default dict)) -}}
{{- if eq .c.probes.type "grpc" }}
grpc:
  port: {{ include "crm.portNumber" (dict "c" .c "name" .name "port" .c.probes.port) }}
  {{- if ne .kind "readiness" }}
  {{- /* Liveness asks only whether the process serves: a database outage must not restart it. */}}
  service: liveness
  {{- end }}
{{- else }}
httpGet:
  path: {{ .path }}
  port: {{ .c.probes.port }}
{{- end }}
{{ toYaml $timing }}
{{- end -}}

{{/*
The pod spec of a component, shared by its Deployment, Jobs and CronJobs so that all of them
run hardened the same way. Extra keys: serviceAccount, args, restartPolicy, workload (true for
the long-running Deployment: ports and probes), hook (true for the migration Job: no certificate).
*/}}
{{- define "crm.podSpec" -}}
{{- $d := .root.Values.default -}}
serviceAccountName: {{ .serviceAccount }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .restartPolicy }}
restartPolicy: {{ . }}
{{- end }}
terminationGracePeriodSeconds: {{ $d.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml $d.podSecurityContext | nindent 2 }}
{{- with $d.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $d.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $d.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $d.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if and .workload $d.topologySpread }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "crm.selectorLabels" . | nindent 8 }}
{{- end }}
containers:
  - name: {{ .name }}
    image: {{ include "crm.image" . }}
    imagePullPolicy: {{ $d.image.pullPolicy }}
    command: ["python", "-m", "services.{{ .name }}"]
    {{- with .args }}
    args:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    env:
      {{- include "crm.env" . | trim | nindent 6 }}
    {{- if .workload }}
    ports:
      {{- range $portName, $number := .c.ports }}
      - name: {{ $portName }}
        containerPort: {{ $number }}
        protocol: TCP
      {{- end }}
    startupProbe:
      {{- include "crm.probe" (merge (dict "kind" "startup" "path" .c.probes.livenessPath) .) | trim | nindent 6 }}
    readinessProbe:
      {{- include "crm.probe" (merge (dict "kind" "readiness" "path" .c.probes.readinessPath) .) | trim | nindent 6 }}
    livenessProbe:
      {{- include "crm.probe" (merge (dict "kind" "liveness" "path" .c.probes.livenessPath) .) | trim | nindent 6 }}
    {{- end }}
    securityContext:
      {{- toYaml $d.securityContext | nindent 6 }}
    resources:
      {{- include "crm.resources" . | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if and .root.Values.tls.enabled (not .hook) }}
      {{- /* The whole folder, never subPath: the kubelet then swaps renewed files in place. */}}
      - name: tls
        mountPath: {{ .root.Values.tls.mountPath }}
        readOnly: true
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $d.tmpSizeLimit | default "64Mi" }}
  {{- if and .root.Values.tls.enabled (not .hook) }}
  - name: tls
    secret:
      secretName: {{ include "crm.tlsSecret" . }}
      defaultMode: 0440
  {{- end }}
{{- end -}}
