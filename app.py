from crm import create_app

app = create_app()
