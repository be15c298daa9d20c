"""The Streamlit dashboard: pages that compose layers/ and etl/ results."""
