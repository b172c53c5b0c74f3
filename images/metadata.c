/* images/metadata.c: metadata.yaml, parsed with libyaml's event API into JSON and then
 * validated field by field.
 *
 * The events are consumed directly (not through libyaml's document loader) so that aliases
 * can be refused outright: a document loader would happily expand a "billion laughs"
 * document. Depth and node count are capped too, and the input size before anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "images/images.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/str.h"
#include "lib/yaml-in.h"

#include "lib/banned.h"

/* Canonical names first, as LXD's osarch prints them, then the aliases it accepts. */
static const struct {
	const char *canonical;
	const char *names[8];
} architectures[] = {
	{ "i686", { "i686", "i386", "i586", "386", "x86", "generic", NULL } },
	{ "x86_64", { "x86_64", "amd64", "x64", NULL } },
	{ "armv6l", { "armv6l", "armel", NULL } },
	{ "armv7l", { "armv7l", "armhf", "arm", "armv7", NULL } },
	{ "armv8l", { "armv8l", NULL } },
	{ "aarch64", { "aarch64", "arm64", "arm64/v8", NULL } },
	{ "ppc", { "ppc", "powerpc", NULL } },
	{ "ppc64", { "ppc64", "powerpc64", NULL } },
	{ "ppc64le", { "ppc64le", "ppc64el", NULL } },
	{ "s390x", { "s390x", NULL } },
	{ "mips", { "mips", NULL } },
	{ "mips64", { "mips64", NULL } },
	{ "riscv32", { "riscv32", NULL } },
	{ "riscv64", { "riscv64", NULL } },
	{ "loongarch64", { "loongarch64", NULL } },
};

static const char *const template_triggers[] = { "create", "copy", "start", "rename" };

const char *image_architecture_canonical(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(architectures); i++)
		for (size_t k = 0; architectures[i].names[k]; k++)
			if (streq(architectures[i].names[k], name))
				return architectures[i].canonical;
	return NULL;
}

void image_metadata_free(struct image_metadata *m)
{
	if (!m)
		return;
	free(m->architecture);
	json_decref(m->properties);
	json_decref(m->templates);
	free(m);
}

static int string_map_check(const json_t *map, const char *what, struct error *err)
{
	const char *key;
	json_t *value;

	if (!json_is_object(map))
		return error_set(err, -EINVAL, "Invalid metadata.yaml: %s must be a map", what);
	json_object_foreach((json_t *)map, key, value)
	{
		if (!json_is_string(value))
			return error_set(err, -EINVAL,
					 "Invalid metadata.yaml: %s '%s' must be a string", what,
					 key);
	}
	return 0;
}

static int date_get(const json_t *doc, const char *key, int64_t *ret, struct error *err)
{
	const json_t *v = json_object_get(doc, key);
	int64_t n;

	*ret = 0;
	if (!v)
		return 0;
	if (!json_is_string(v) || parse_i64(json_string_value(v), &n) < 0 || n < 0)
		return error_set(err, -EINVAL,
				 "Invalid metadata.yaml: %s must be a number of seconds", key);
	*ret = n;
	return 0;
}

/* A template path is where the file goes in the container: absolute, no "..". */
static bool template_path_is_valid(const char *path)
{
	const char *p = path;

	if (path[0] != '/' || !str_is_single_line(path) || strlen(path) > 4096)
		return false;
	while (*p) {
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += len;
	}
	return true;
}

static int template_check(const char *path, const json_t *in, json_t **ret, struct error *err)
{
	autojson json_t *out = json_object();
	const json_t *when = json_object_get(in, "when");
	const json_t *create_only = json_object_get(in, "create_only");
	const char *tpl = json_get_str(in, "template");
	const json_t *props = json_object_get(in, "properties");
	json_t *triggers = json_array();
	size_t i;
	json_t *w;
	bool b = false;
	int r;

	json_object_set_new(out, "when", triggers);
	if (!template_path_is_valid(path))
		return error_set(err, -EINVAL, "Invalid metadata.yaml: bad template path '%s'",
				 path);
	if (!json_is_object(in))
		return error_set(err, -EINVAL, "Invalid metadata.yaml: template '%s' must be a map",
				 path);
	/* The template is a file directly under templates/: no path may hide in its name. */
	if (!tpl || !object_name_is_valid(tpl))
		return error_set(err, -EINVAL,
				 "Invalid metadata.yaml: template '%s' needs a plain file name",
				 path);
	if (when && !json_is_array(when))
		return error_set(err, -EINVAL,
				 "Invalid metadata.yaml: 'when' of template '%s' must be a list",
				 path);
	json_array_foreach(when, i, w)
	{
		bool known = false;

		for (size_t k = 0; k < ARRAY_SIZE(template_triggers); k++)
			known |= json_is_string(w) &&
				 streq(json_string_value(w), template_triggers[k]);
		if (!known)
			return error_set(
				err, -EINVAL,
				"Invalid metadata.yaml: template '%s' has an unknown trigger",
				path);
		json_array_append_new(triggers, json_string(json_string_value(w)));
	}
	if (create_only &&
	    (!json_is_string(create_only) || parse_bool(json_string_value(create_only), &b) < 0))
		return error_set(
			err, -EINVAL,
			"Invalid metadata.yaml: create_only of template '%s' must be a boolean",
			path);
	json_object_set_new(out, "create_only", json_boolean(b));
	json_object_set_new(out, "template", json_string(tpl));
	if (props) {
		r = string_map_check(props, "template property", err);
		if (r < 0)
			return r;
		json_object_set(out, "properties", (json_t *)props);
	} else {
		json_object_set_new(out, "properties", json_object());
	}
	*ret = take_ptr(out);
	return 0;
}

int image_metadata_parse(const char *data, size_t len, struct image_metadata **ret,
			 struct error *err)
{
	autoclean(image_metadata_freep) struct image_metadata *m = NULL;
	autojson json_t *doc = NULL;
	const char *arch, *canonical, *path;
	const json_t *props, *templates;
	json_t *tpl;
	int r;

	if (len > IMAGE_METADATA_MAX)
		return error_set(err, -EFBIG, "metadata.yaml is larger than %u bytes",
				 IMAGE_METADATA_MAX);
	r = yaml_in_parse(data, len, "metadata.yaml", &doc, err);
	if (r < 0)
		return r;
	if (!json_is_object(doc))
		return error_set(err, -EINVAL,
				 "Invalid metadata.yaml: the top level must be a map");

	m = xcalloc(1, sizeof(*m));
	arch = json_get_str(doc, "architecture");
	if (str_is_empty(arch))
		return error_set(err, -EINVAL, "Invalid metadata.yaml: no architecture");
	canonical = image_architecture_canonical(arch);
	if (!canonical)
		return error_set(err, -EINVAL,
				 "Invalid metadata.yaml: unsupported architecture '%s'",
				 str_is_single_line(arch) ? arch : "?");
	m->architecture = xstrdup(canonical);

	r = date_get(doc, "creation_date", &m->creation_date, err);
	if (r < 0)
		return r;
	if (m->creation_date == 0)
		return error_set(err, -EINVAL, "Invalid metadata.yaml: missing creation date");
	r = date_get(doc, "expiry_date", &m->expiry_date, err);
	if (r < 0)
		return r;

	props = json_object_get(doc, "properties");
	if (props && !(json_is_string(props) && json_string_length(props) == 0)) {
		r = string_map_check(props, "property", err);
		if (r < 0)
			return r;
		m->properties = json_deep_copy(props);
	} else {
		m->properties = json_object();
	}

	m->templates = json_object();
	templates = json_object_get(doc, "templates");
	if (templates && !(json_is_string(templates) && json_string_length(templates) == 0)) {
		if (!json_is_object(templates))
			return error_set(err, -EINVAL,
					 "Invalid metadata.yaml: templates must be a map");
		json_object_foreach((json_t *)templates, path, tpl)
		{
			json_t *checked = NULL;

			r = template_check(path, tpl, &checked, err);
			if (r < 0)
				return r;
			json_object_set_new(m->templates, path, checked);
		}
	}
	*ret = take_ptr(m);
	return 0;
}

int image_metadata_load_at(int dirfd, struct image_metadata **ret, struct error *err)
{
	autoclose int fd = open_beneath(dirfd, "metadata.yaml", O_RDONLY | O_NOFOLLOW, 0);
	struct strbuf sb = STRBUF_INIT;
	char buf[16384];
	int r;

	if (fd < 0)
		return error_errno(err, fd, "Failed to open metadata.yaml");
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			strbuf_release(&sb);
			return error_errno(err, -errno, "Failed to read metadata.yaml");
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > IMAGE_METADATA_MAX) {
			strbuf_release(&sb);
			return error_set(err, -EFBIG, "metadata.yaml is larger than %u bytes",
					 IMAGE_METADATA_MAX);
		}
		strbuf_add(&sb, buf, (size_t)n);
	}
	r = image_metadata_parse(strbuf_str(&sb), sb.len, ret, err);
	strbuf_release(&sb);
	return r;
}
