# Jinja2 templates of the generated C; shipped inside the wheel as mpcgen/templates.
