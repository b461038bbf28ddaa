from django import forms


class TokenForm(forms.Form):
    token = forms.CharField(label="Code from your authenticator app", min_length=6, max_length=8,
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                                          "autofocus": True}))

    def clean_token(self):
        token = self.cleaned_data["token"].replace(" ", "")
        if not token.isdigit():
            raise forms.ValidationError("The code is digits only.")
        return token
