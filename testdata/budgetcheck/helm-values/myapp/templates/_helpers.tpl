{{- define "myapp.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
