#include "client/remote.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/http-tls.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/tls-cert.h"
#include "lib/yaml-out.h"
/* Last, so that no system header follows its macros. */
#include "lib/banned.h"

#define REMOTE_CONFIG_MAX (1 << 20)

static void remote_release(struct remote *r)
{
	free(r->name);
	free(r->addr);
	free(r->protocol);
	free(r->auth_type);
	free(r->project);
	*r = (struct remote){ 0 };
}

void remote_config_release(struct remote_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_remotes; i++)
		remote_release(&c->remotes[i]);
	free(c->remotes);
	free(c->dir);
	free(c->default_remote);
	*c = (struct remote_config)REMOTE_CONFIG_INIT;
}

bool remote_name_is_valid(const char *name)
{
	return object_name_is_valid(name) && !strchr(name, ':');
}

struct remote *remote_config_find(const struct remote_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_remotes; i++) {
		if (streq(c->remotes[i].name, name))
			return &c->remotes[i];
	}
	return NULL;
}

static int remote_compare(const void *a, const void *b)
{
	return strcmp(((const struct remote *)a)->name, ((const struct remote *)b)->name);
}

static char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

int remote_config_add(struct remote_config *c, const struct remote *r, struct error *err)
{
	if (remote_config_find(c, r->name))
		return error_set(err, -EEXIST, "Remote %s exists as <%s>", r->name,
				 remote_config_find(c, r->name)->addr);
	c->remotes = xrealloc(c->remotes, (c->n_remotes + 1) * sizeof(*c->remotes));
	c->remotes[c->n_remotes++] = (struct remote){
		.name = xstrdup(r->name),
		.addr = xstrdup(r->addr),
		.protocol = xstrdup(r->protocol ? r->protocol : "lxd"),
		.auth_type = xstrdup_or_null(r->auth_type),
		.project = xstrdup_or_null(r->project),
		.is_public = r->is_public,
	};
	qsort(c->remotes, c->n_remotes, sizeof(*c->remotes), remote_compare);
	return 0;
}

int remote_config_remove(struct remote_config *c, const char *name, struct error *err)
{
	struct remote *r = remote_config_find(c, name);

	if (!r)
		return error_set(err, -ENOENT, "The remote \"%s\" doesn't exist", name);
	remote_release(r);
	memmove(r, r + 1, (size_t)(c->remotes + c->n_remotes - (r + 1)) * sizeof(*r));
	c->n_remotes--;
	return 0;
}

char *remote_config_path(const struct remote_config *c, const char *file)
{
	return str_printf("%s/%s", c->dir, file);
}

char *remote_server_cert_path(const struct remote_config *c, const char *name)
{
	return str_printf("%s/servercerts/%s.crt", c->dir, name);
}

static char *config_dir(void)
{
	const char *conf = getenv("LODGE_CONF");
	const char *home = getenv("HOME");

	if (!str_is_empty(conf))
		return xstrdup(conf);
	return str_printf("%s/.config/lodge", !str_is_empty(home) ? home : "/root");
}

/* A scalar as yaml_out writes it: plain, or double-quoted without escapes. */
static char *yaml_scalar(const char *s)
{
	size_t len = strlen(s);

	if (len >= 2 && s[0] == '"' && s[len - 1] == '"')
		return xstrndup(s + 1, len - 2);
	return xstrdup(s);
}

/* Reads the subset of YAML that remote_config_save() writes (and lxc's config.yml uses):
 * "key: value" at the top, "remotes:" with a two-space "name:" per remote and four-space
 * "key: value" fields. */
static int config_parse(struct remote_config *c, char *text, struct error *err)
{
	struct remote cur = { 0 };
	bool in_remotes = false;
	unsigned lineno = 0;
	char *save = NULL;
	int r = 0;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t indent = strspn(line, " ");
		char *key = line + indent, *colon = strstr(key, ":");
		autofree char *value = NULL;

		lineno++;
		if (*key == '\0' || *key == '#')
			continue;
		if (!colon || (colon[1] != '\0' && colon[1] != ' '))
			return error_set(err, -EINVAL, "Invalid line %u in config.yml", lineno);
		*colon = '\0';
		value = yaml_scalar(colon[1] ? colon + 2 : "");

		if (indent == 0) {
			in_remotes = streq(key, "remotes");
			if (streq(key, "default-remote") && !str_is_empty(value)) {
				free(c->default_remote);
				c->default_remote = take_ptr(value);
			}
			continue;
		}
		if (!in_remotes)
			continue;
		if (indent == 2) {
			if (cur.name)
				r = remote_config_add(c, &cur, err);
			remote_release(&cur);
			if (r < 0)
				return r;
			if (!remote_name_is_valid(key))
				return error_set(err, -EINVAL,
						 "Invalid remote name '%s' in config.yml", key);
			cur.name = xstrdup(key);
		} else if (indent == 4 && cur.name) {
			char **field = streq(key, "addr")	 ? &cur.addr
				       : streq(key, "protocol")	 ? &cur.protocol
				       : streq(key, "auth_type") ? &cur.auth_type
				       : streq(key, "project")	 ? &cur.project
								 : NULL;

			if (field) {
				free(*field);
				*field = take_ptr(value);
			} else if (streq(key, "public")) {
				cur.is_public = streq(value, "true");
			}
		}
	}
	if (cur.name && cur.addr)
		r = remote_config_add(c, &cur, err);
	remote_release(&cur);
	return r;
}

int remote_config_load(struct remote_config *ret, struct error *err)
{
	struct remote_config c = REMOTE_CONFIG_INIT;
	autofree char *path = NULL;
	autofree char *text = NULL;
	int r;

	c.dir = config_dir();
	c.default_remote = xstrdup("local");
	path = remote_config_path(&c, "config.yml");
	r = read_file(path, REMOTE_CONFIG_MAX, &text, NULL, err);
	if (r == -ENOENT) {
		error_clear(err);
		r = 0;
	} else if (r == 0) {
		r = config_parse(&c, text, err);
	}
	if (r == 0 && !remote_config_find(&c, "local"))
		r = remote_config_add(
			&c, &(struct remote){ .name = (char *)"local", .addr = (char *)"unix://" },
			err);
	if (r == 0 && !remote_config_find(&c, c.default_remote))
		r = error_set(err, -EINVAL, "The default remote \"%s\" doesn't exist",
			      c.default_remote);
	if (r < 0) {
		remote_config_release(&c);
		return r;
	}
	*ret = c;
	return 0;
}

int remote_config_save(const struct remote_config *c, struct error *err)
{
	autojson json_t *doc = json_object();
	json_t *remotes = json_object();
	autofree char *yaml = NULL;
	autofree char *path = remote_config_path(c, "config.yml");
	int r;

	for (size_t i = 0; i < c->n_remotes; i++) {
		const struct remote *rm = &c->remotes[i];
		json_t *o = json_pack("{s:s, s:s, s:b}", "addr", rm->addr, "protocol",
				      rm->protocol ? rm->protocol : "lxd", "public", rm->is_public);

		if (rm->auth_type)
			json_object_set_new(o, "auth_type", json_string(rm->auth_type));
		if (rm->project)
			json_object_set_new(o, "project", json_string(rm->project));
		json_object_set_new(remotes, rm->name, o);
	}
	json_object_set_new(doc, "default-remote", json_string(c->default_remote));
	json_object_set_new(doc, "remotes", remotes);
	json_object_set_new(doc, "aliases", json_object());
	r = yaml_out_render(doc, YAML_OUT_SORT_KEYS, &yaml, err);
	if (r < 0)
		return r;
	r = mkdir_p(c->dir, 0700, err);
	if (r < 0)
		return r;
	return write_file_atomic(path, yaml, strlen(yaml), 0600, err);
}

int remote_client_cert_ensure(const struct remote_config *c, struct error *err)
{
	autofree char *crt = remote_config_path(c, "client.crt");
	autofree char *key = remote_config_path(c, "client.key");
	int r;

	r = mkdir_p(c->dir, 0700, err);
	if (r < 0)
		return r;
	return tls_cert_ensure(crt, key, false, err);
}

int remote_connect(const struct remote_config *c, const char *name, struct lxd_client **ret,
		   struct error *err)
{
	const struct remote *rm = remote_config_find(c, name ? name : c->default_remote);
	autofree char *crt = NULL, *key = NULL, *server_path = NULL, *pem = NULL, *fp = NULL;
	struct lxd_client *lxd;
	int r;

	if (!rm)
		return error_set(err, -ENOENT, "The remote \"%s\" doesn't exist", name);
	if (streq(rm->addr, "unix://") || str_has_prefix(rm->addr, "unix:")) {
		const char *path = rm->addr + strlen("unix:");

		while (path[0] == '/' && path[1] == '/')
			path++;
		lxd = lxd_client_new(str_is_empty(path) || streq(path, "/") ? NULL : path);
	} else {
		crt = remote_config_path(c, "client.crt");
		key = remote_config_path(c, "client.key");
		server_path = remote_server_cert_path(c, rm->name);
		r = read_file(server_path, REMOTE_CONFIG_MAX, &pem, NULL, err);
		if (r == 0)
			r = tls_cert_fingerprint(pem, &fp, err);
		if (r < 0)
			return error_prefix(err, "Remote \"%s\"", rm->name);
		r = lxd_client_new_https(rm->addr,
					 &(struct http_tls_options){
						 .verify = HTTP_TLS_VERIFY_FINGERPRINT,
						 .fingerprint = fp,
						 .cert_file = access(crt, R_OK) == 0 ? crt : NULL,
						 .key_file = key,
					 },
					 &lxd, err);
		if (r < 0)
			return r;
	}
	if (rm->project && !streq(rm->project, "default"))
		lxd_client_set_project(lxd, rm->project);
	*ret = lxd;
	return 0;
}
